from django.dispatch import Signal

# Sent by the worker with `document` once its new passages are saved, before it
# is marked ready: what needs the passages (embeddings, an index) receives it
# there, so "ready" means ready to be cited.
passages_saved = Signal()
