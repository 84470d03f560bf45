from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "chatapp.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from chatapp.chat import signals
        from chatapp.ops import metrics

        signals.answer_finished.connect(metrics.on_answer_finished, dispatch_uid="ops-metrics-answers")
        signals.reaper_ran.connect(metrics.on_reaper_ran, dispatch_uid="ops-metrics-reaper")
