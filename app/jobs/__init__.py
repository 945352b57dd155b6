"""Training jobs on the serving host: train → evaluate → promote, one job at a time.

A job is two child processes run one after the other by a monitor thread, so serving goes on:

1. ``python -m app.cli finetune`` (``finetune.train``: the run store's confirmed runs with
   ``--from_runs``, plus the config's gold files) writes a LoRA adapter and a progress JSON that
   ``GET /admin/jobs/{id}`` reads (step, loss, ETA);
2. ``python -m app.gate evaluate`` scores the serving adapter and the new one on the same
   dev questions, on its own copy of the base model;
3. ``finetune.promote.decide``: if accuracy >= current + ``promote_min_delta`` the adapter is
   hot-swapped into the live chat model (``load_adapter`` + ``activate_adapter``), otherwise the
   job ends "rejected" with the scores that decided it.

The package: ``job`` (``JobSpec``, ``Job``, the errors), ``config`` (a request → the trainer's
config, every path confined, and the two commands), ``manager`` (``JobManager``: the processes).

Every job keeps its folder (``cache_dir/jobs/<id>/``: job.json, progress.json, train.log,
scores.json); adapters go to ``cache_dir/adapters/job-<id>/``.
"""
