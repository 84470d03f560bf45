from django import forms

from chatapp.review.actions import MAX_COMMENT_CHARS
from chatapp.review.models import ConversationReview, Feedback


class FeedbackForm(forms.Form):
    # Empty withdraws the vote.
    vote = forms.ChoiceField(choices=[("", "None"), *Feedback.Vote.choices], required=False)
    comment = forms.CharField(required=False, max_length=MAX_COMMENT_CHARS)


class ReviewForm(forms.ModelForm):
    class Meta:
        model = ConversationReview
        fields = ["status", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3, "cols": 60})}


class PromoteForm(forms.Form):
    question = forms.CharField(max_length=300)
    answer = forms.CharField()
