"""What the core announces, for apps that keep count (chatapp.ops's metrics).

Django signals rather than extension points: the model sends one, and the
model must not import the registry, which refers to it.
"""

from django.dispatch import Signal

# Sent once when an answer reaches its final status; `message` is the answer.
answer_finished = Signal()
# Sent after each reaper run; `done` counts the answers it handled, by action.
reaper_ran = Signal()
