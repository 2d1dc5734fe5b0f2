"""Per-deployment choices in one place: resources, executor and the GPU tags, all from
settings, so the same code runs on a laptop and on a GPU node pool."""

from __future__ import annotations

import json

import dagster as dg

from dataflux_pipeline.settings import Settings

GPU_POOL = "gpu"
ACCELERATOR_TAG = "dataflux/accelerator"
DEPLOYMENTS = ("local", "production")


def gpu_op_tags(settings: Settings) -> dict[str, str]:
    """Op tags that put a model-heavy step on a GPU node under the k8s job executor;
    none where no GPU step will run (settings.uses_gpu)."""
    if not settings.uses_gpu:
        return {}
    k8s = {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {
            "node_selector": settings.gpu_node_selector,
            "tolerations": settings.gpu_tolerations,
        },
    }
    return {"dagster-k8s/config": json.dumps(k8s), ACCELERATOR_TAG: "gpu"}


def gpu_pool(settings: Settings) -> str | None:
    return GPU_POOL if settings.uses_gpu else None


def run_tags(settings: Settings) -> dict[str, str]:
    """Runs with a GPU step carry this tag; the run queue limits how many hold GPUs."""
    return {ACCELERATOR_TAG: "gpu"} if settings.uses_gpu else {}


def executor_for(deployment: str) -> dg.ExecutorDefinition:
    """Steps as their own Kubernetes jobs in production (so only GPU steps hold a GPU);
    locally every step of a run in the run's own process: a new Python process per step
    cost 2 s each (imports, the text model loaded again), most of a small file's time
    from drop to searchable."""
    if deployment not in DEPLOYMENTS:
        raise ValueError(f"DATAFLUX_DEPLOYMENT must be one of {DEPLOYMENTS}, not {deployment!r}")
    if deployment == "production":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return dg.in_process_executor
