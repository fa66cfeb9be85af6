"""deploy/ and the Dockerfile, validated as far as this machine can: HAProxy checks its
configuration, YAML parses into what each file claims, and the image's build commands run
in a clean virtualenv."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.system import HAPROXY_CONFIG, ROOT, system_program

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
SECONDS = re.compile(r"^(\d+)s$")


def seconds(duration: str) -> int:
    found = SECONDS.match(duration)
    assert found, f"{duration!r} is not a duration in seconds"
    return int(found[1])


def test_haproxy_accepts_the_configuration_without_a_warning():
    done = subprocess.run(
        [system_program("haproxy"), "-c", "-f", str(HAPROXY_CONFIG)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Configuration file is valid" in said
    assert "[WARNING]" not in said and "[ALERT]" not in said, said


def test_the_haproxy_health_check_is_the_generated_grpc_request():
    script = DEPLOY / "haproxy" / "grpc_health_check.py"
    rules = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert rules.strip() and rules in HAPROXY_CONFIG.read_text()
    # The gRPC message sent (an empty HealthCheckRequest) and the one waited for; that a
    # real server answers the whole request is tested by the haproxy fixture's start.
    assert "0000050001000000010000000000" in rules  # DATA, END_STREAM, stream 1, empty message
    assert "expect binary 00000000020801" in rules  # status (field 1) = SERVING (1)


def test_haproxy_stream_timeouts_outlast_a_session():
    config = HAPROXY_CONFIG.read_text()
    for name in ("client", "server", "tunnel", "http-keep-alive"):
        found = re.search(rf"^\s*timeout {name} (\d+)s$", config, re.MULTILINE)
        assert found and int(found[1]) > 300, f"timeout {name} must exceed --max-duration"
    assert re.search(r"^\s*bind .* proto h2$", config, re.MULTILINE)
    assert re.search(r"^\s*default-server proto h2 check", config, re.MULTILINE)
    assert "balance hdr(x-nexy-session-id)" in config


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object in deploy/kubernetes, by kind."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in found, f"two {document['kind']}s"
            found[document["kind"]] = document
    return found


def env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container["env"]}


def test_kubernetes_objects_select_the_same_pods():
    objects = manifests()
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget"}
    deployment = objects["Deployment"]["spec"]
    labels = deployment["template"]["metadata"]["labels"]
    assert deployment["selector"]["matchLabels"] == labels
    assert objects["Service"]["spec"]["selector"] == labels
    assert objects["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    assert objects["Service"]["spec"]["clusterIP"] == "None"  # headless: every pod's address


def test_kubernetes_shutdown_is_matched_to_the_server_grace():
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    settings = env(container)
    port = int(settings["NEXY_STREAM_PORT"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == port  # grpc.health.v1
    assert {p["containerPort"] for p in container["ports"]} >= {port}
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = float(settings["NEXY_STREAM_SHUTDOWN_GRACE"])
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace + 1
    assert grace <= float(settings["NEXY_STREAM_MAX_DURATION"])
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_envoy_turns_off_the_timeouts_that_break_long_streams():
    config = yaml.safe_load((DEPLOY / "envoy" / "envoy.yaml").read_text())
    (listener,) = config["static_resources"]["listeners"]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert manager["@type"].endswith("HttpConnectionManager")
    assert seconds(manager["stream_idle_timeout"]) > 300  # --max-duration
    assert "max_connection_duration" not in manager["common_http_protocol_options"]
    (route,) = manager["route_config"]["virtual_hosts"][0]["routes"]
    assert route["route"]["timeout"] == "0s"
    assert route["route"]["hash_policy"] == [{"header": {"header_name": "x-nexy-session-id"}}]
    (cluster,) = config["static_resources"]["clusters"]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    assert "http2_protocol_options" in options["explicit_http_config"]
    assert "max_connection_duration" not in options["common_http_protocol_options"]
    assert cluster["health_checks"][0]["grpc_health_check"] == {}


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, stage by stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, rest = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def test_the_image_runs_as_a_user_and_only_copies_what_was_built():
    *_, final = dockerfile_stages()
    kinds = [kind for kind, _ in final]
    assert "RUN" not in kinds  # the runtime stage installs nothing
    user = dict(final)["USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert dict(final)["ENTRYPOINT"] == '["nexy-stream"]'
    assert dict(final)["CMD"] == '["serve"]'


@pytest.mark.slow
def test_the_image_build_commands_work_in_a_clean_virtualenv(tmp_path: Path):
    """The build stage's COPY and RUN, in a scratch directory: ENV paths moved under it,
    ``python`` the interpreter running these tests."""
    build, *_ = dockerfile_stages()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "python").symlink_to(sys.executable)
    env["PATH"] = f"{shims}:{env['PATH']}"
    workdir = tmp_path
    for kind, rest in build:
        if kind == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = str(tmp_path / value.lstrip("/")) if value.startswith("/") else value
        elif kind == "WORKDIR":
            workdir = tmp_path / rest.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif kind == "COPY":
            *sources, target = shlex.split(rest)
            for source in sources:
                copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy2
                destination = workdir / target / (Path(source).name if target.endswith("/") else "")
                copy(ROOT / source, destination)
        elif kind == "RUN":
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", rest],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert done.returncode == 0, f"RUN {rest}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    venv = Path(env["VENV"])
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import nexy_stream.app.server, pytest"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "No module named 'pytest'" in installed.stderr  # the server, none of the dev tools
