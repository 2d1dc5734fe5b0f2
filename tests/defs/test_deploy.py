"""What can be checked offline about the production deployment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dataflux_pipeline.cli.main import parser
from dataflux_pipeline.defs.deployment import executor_for, gpu_op_tags
from dataflux_pipeline.settings import Settings
from tests.support.defs_probe import probe

ROOT = Path(__file__).resolve().parents[2]


def test_deploy_files_parse_and_agree() -> None:
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert instance["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "dataflux_pipeline.definitions"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["DATAFLUX_DEPLOYMENT"] == "production"
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert (
        limits["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    )
    cloud = yaml.safe_load((ROOT / "dagster_cloud.yaml").read_text())
    assert cloud["locations"][0]["code_source"]["module_name"] == "dataflux_pipeline.definitions"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and ".[k8s]" in dockerfile


def test_every_gpu_step_requests_a_gpu_node() -> None:
    """In production (definitions loaded with DATAFLUX_DEPLOYMENT=production) the model
    steps are the GPU steps: embeddings, and analysis while a vision model is on; ingest
    runs carry the queue's tag."""
    job = probe({"DATAFLUX_DEPLOYMENT": "production"})
    gpu_ops = {name: op for name, op in job["ops"].items() if op["pool"] == "gpu"}
    assert sorted(gpu_ops) == ["analysis", "embeddings"]
    no_vision = {"OCR": "false", "IMAGE_TAGS": "false", "FACE_DETECTION": "false"}
    no_vision = {f"DATAFLUX_{k}": v for k, v in no_vision.items()} | {"DATAFLUX_SAFETY": "false"}
    lean = probe({"DATAFLUX_DEPLOYMENT": "production", **no_vision})
    assert [n for n, op in lean["ops"].items() if op["pool"] == "gpu"] == ["embeddings"]
    for op in gpu_ops.values():
        k8s = json.loads(op["tags"]["dagster-k8s/config"])
        assert k8s["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert k8s["pod_spec_config"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert job["job_tags"]["dataflux/accelerator"] == "gpu"
    cpu = probe({"DATAFLUX_DEPLOYMENT": "production", "DATAFLUX_DEVICE": "cpu"})
    assert not any(op["pool"] == "gpu" for op in cpu["ops"].values())
    assert "dataflux/accelerator" not in cpu["job_tags"]


def test_gpu_placement_comes_from_settings(monkeypatch) -> None:
    monkeypatch.setenv("DATAFLUX_GPU_NODE_SELECTOR", '{"cloud.google.com/gke-accelerator": "h100"}')
    k8s = json.loads(gpu_op_tags(Settings(deployment="production"))["dagster-k8s/config"])
    assert k8s["pod_spec_config"]["node_selector"] == {"cloud.google.com/gke-accelerator": "h100"}
    assert gpu_op_tags(Settings(deployment="production", device="cpu")) == {}
    assert gpu_op_tags(Settings()) == {}  # local, device auto: no GPU step
    assert "dagster-k8s/config" in gpu_op_tags(Settings(device="cuda"))
    with pytest.raises(ValueError, match="DATAFLUX_DEPLOYMENT"):
        executor_for("staging")


def test_production_definitions_validate() -> None:
    env = os.environ | {"DATAFLUX_DEPLOYMENT": "production"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster",
            "definitions",
            "validate",
            "-m",
            "dataflux_pipeline.definitions",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_search_service_manifest_is_consistent() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "search-service.yaml").read_text()))
    by_kind = {d["kind"]: d for d in docs}
    assert set(by_kind) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    deployment, service, hpa = (
        by_kind["Deployment"],
        by_kind["Service"],
        by_kind["HorizontalPodAutoscaler"],
    )
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    # the command is one the CLI accepts, on the port the probes and the Service use
    command = container["command"]
    assert command[0] == "dataflux"
    args = parser().parse_args(command[1:])
    assert args.func.__name__ == "cmd_serve" and args.workers >= 2
    assert container["ports"][0]["containerPort"] == args.port
    assert service["spec"]["ports"][0]["targetPort"] == args.port
    for probe_name in ("readinessProbe", "livenessProbe"):
        assert container[probe_name]["httpGet"] == {"path": "/health", "port": args.port}
    # every DATAFLUX_ variable it sets is a setting the service reads
    fields = {f"DATAFLUX_{name.upper()}" for name in Settings.model_fields}
    names = [e["name"] for e in container["env"] if e["name"].startswith("DATAFLUX_")]
    assert names and set(names) <= fields, set(names) - fields
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["DATAFLUX_DEPLOYMENT"] == "production"
    assert env["DATAFLUX_STORAGE_URI"].startswith("s3://")  # replicas share one index
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert (
        hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    )
