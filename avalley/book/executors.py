"""Where the jobs of a plan run: `local` (this process, one after another), `ray` (a
multi-GPU node or a Ray cluster) or `slurm` (through submitit). No scheduler of our own:
Ray orders the jobs by their dependencies (a job's task takes its upstream tasks' results
as arguments), Slurm through submitit runs one job array per stage and waits for it.

Every executor calls `jobs.execute(job, settings, upstream)` on the worker, which never
raises, and returns one outcome per job of the plan: `done` (found finished before this
run), `ran`, `cached` (found finished by the job itself), `failed` (with its error) or
`blocked` (a job it needs failed). Jobs are idempotent, so rerunning the same command
after a failure, or on more machines, does only what is missing.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from .jobs import Settings, execute, outcome

EXECUTORS = ("local", "ray", "slurm")


@dataclass
class Options:
    """What the executors take from the command line (see `python -m avalley paper -h`)."""
    ray_address: str | None = None     # an existing cluster ("auto", "ray://host:10001")
    ray_cpus: int | None = None        # a local instance: its CPUs (default: all)
    ray_gpus: int | None = None        # a local instance: its GPUs (default: all)
    train_gpus: float = 1.0            # GPUs per training job (Ray, Slurm)
    scan_gpus: float = 0.5             # GPUs per chapter job (Ray; Slurm rounds up to 1)
    cpus_per_job: int = 1              # CPUs per job, also its torch threads on the CPU
    slurm_cluster: str | None = None   # None: Slurm; "local": submitit's local executor
    slurm_partition: str | None = None
    slurm_time: int = 24 * 60          # minutes per job
    slurm_gpus: int = 1                # GPUs per job on Slurm
    logs: str = "data/paper-logs"      # submitit's folder (logs, pickled jobs)


def run(plan, done: dict, settings: Settings, executor: str = "local",
        options: Options | None = None, log=print) -> list[dict]:
    """Run the jobs of `plan` that are not `done` with `executor`; outcomes of all jobs."""
    options = options or Options()
    todo = [j for j in plan.jobs if not done[j.key]]
    outcomes = {j.key: outcome(j, "done") for j in plan.jobs if done[j.key]}
    if todo:
        runner = {"local": _local, "ray": _ray, "slurm": _slurm}[executor]
        outcomes.update(runner(plan, todo, outcomes, settings, options, log))
    return [outcomes[j.key] for j in plan.jobs]


def _report(o: dict, log) -> None:
    err = f": {o['error']}" if o.get("error") else ""
    cpu = f" (CPU {o['cpu_seconds']:.0f} s)" if o.get("cpu_seconds") else ""
    log(f"[{o['status']:>7}] {o['seconds']:8.1f} s  {o['job']}{cpu}{err}")


def _local(plan, todo, known, settings, options, log) -> dict:
    out = {}
    for job in todo:
        log(f"[  start]           {job.describe()}")
        o = execute(job, settings, [{**known, **out}[d] for d in job.deps])
        out[job.key] = o
        _report(o, log)
    return out


def _execute_remote(job, settings, *upstream):
    """The body of a Ray task: upstream tasks' outcomes arrive as arguments."""
    return execute(job, settings, upstream)


def _ray(plan, todo, known, settings, options, log) -> dict:
    import ray
    started = not ray.is_initialized()
    if started:
        kw = dict(address=options.ray_address, runtime_env={"env_vars": settings.env()},
                  include_dashboard=False, log_to_driver=not settings.quiet)
        if options.ray_address is None:
            kw.update(num_cpus=options.ray_cpus, num_gpus=options.ray_gpus)
        ray.init(**kw)
    try:
        gpus = ray.cluster_resources().get("GPU", 0)
        log(f"Ray: {ray.cluster_resources().get('CPU', 0):g} CPUs, {gpus:g} GPUs")
        task = ray.remote(_execute_remote)
        refs, order = {}, []
        for job in todo:
            share = options.train_gpus if job.kind != "chapter" else options.scan_gpus
            res = dict(num_cpus=options.cpus_per_job, num_gpus=share if gpus else 0,
                       name=job.key)
            upstream = [refs[d] if d in refs else known[d] for d in job.deps]
            refs[job.key] = task.options(**res).remote(job, settings, *upstream)
            order.append(job)
        out, pending = {}, {ref: job for job, ref in ((j, refs[j.key]) for j in order)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                o = ray.get(ready[0])
            except Exception as e:       # the worker died beyond Ray's retries
                o = outcome(job, "failed", error=f"{type(e).__name__}: {e}")
            out[job.key] = o
            _report(o, log)
        return out
    finally:
        if started:
            ray.shutdown()


def _slurm(plan, todo, known, settings, options, log) -> dict:
    import submitit
    folder = Path(options.logs).resolve()
    ex = submitit.AutoExecutor(folder=folder / "%j", cluster=options.slurm_cluster)
    out = {}
    for stage, jobs in plan.stages():
        keys = {j.key for j in todo}
        jobs = [j for j in jobs if j.key in keys]
        if not jobs:
            continue
        gpus = options.slurm_gpus if stage != "collect" else 0
        params = dict(timeout_min=options.slurm_time, gpus_per_node=gpus,
                      cpus_per_task=options.cpus_per_job, name=f"avalley-{stage}")
        if options.slurm_partition:
            params["slurm_partition"] = options.slurm_partition
        ex.update_parameters(**params)
        seen = {**known, **out}
        with ex.batch():                  # one job array per stage
            handles = [(j, ex.submit(execute, j, settings, [seen[d] for d in j.deps]))
                       for j in jobs]
        log(f"submitit ({ex.cluster}): stage {stage}, {len(handles)} jobs, logs in {folder}")
        for job, h in handles:
            try:
                o = h.result()
            except Exception as e:       # the task died (time limit, node failure)
                o = outcome(job, "failed", error=f"{type(e).__name__}: {e} (logs: "
                                                 f"{h.paths.stderr})")
            out[job.key] = o
            _report(o, log)
    return out


def summary(outcomes: list[dict]) -> str:
    counts = {}
    for o in outcomes:
        counts[o["status"]] = counts.get(o["status"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in counts.items())


def failed(outcomes: list[dict]) -> list[dict]:
    return [o for o in outcomes if o["status"] in ("failed", "blocked")]


def log_stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
