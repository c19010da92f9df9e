"""docker-compose.yml: it parses, and names every service the Makefile asks docker compose for.

No Docker engine runs where the tests do, so this is what keeps the compose file honest.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest
import yaml

from etl.core.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
MAKEFILE = PROJECT_ROOT / "Makefile"
DOCKERFILE = "containers/spark/Dockerfile"
SPARK_SERVICES = ("spark-master", "spark-worker-1", "spark-worker-2", "spark-history")
MASTER_URL = "spark://spark-master:7077"

# Subcommands whose operands are services, and whether only the first one is (the rest being
# the command to run in it).
_SERVICE_OPERANDS = {
    "up": False,
    "start": False,
    "stop": False,
    "restart": False,
    "logs": False,
    "build": False,
    "pull": False,
    "rm": False,
    "ps": False,
    "run": True,
    "exec": True,
}
_OPTIONS_WITH_VALUE = frozenset(
    {"-f", "--file", "-p", "--project-name", "--profile", "-e", "--env", "-w", "--workdir"}
    | {"-u", "--user", "--name", "--entrypoint", "--env-file", "--project-directory"}
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def test_every_service_the_makefile_names_exists(services: dict[str, dict[str, Any]]) -> None:
    commands = _makefile_compose_commands()
    assert commands, "the Makefile runs no docker compose command"
    named = {service for command in commands for service in _services_named(command)}
    profiles = {profile for command in commands for profile in _profiles_named(command)}

    assert named <= set(services), named - set(services)
    declared_profiles = {p for service in services.values() for p in service.get("profiles", [])}
    assert profiles <= declared_profiles


def test_the_stack_of_the_native_launcher_is_there(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgres", "minio", *SPARK_SERVICES} <= set(services)
    assert any("mc mb" in str(service.get("entrypoint", "")) for service in services.values())


def test_workers_point_at_the_master(services: dict[str, dict[str, Any]]) -> None:
    master = services["spark-master"]
    assert "org.apache.spark.deploy.master.Master" in master["command"]
    assert "7077" in master["command"]
    for name in ("spark-worker-1", "spark-worker-2"):
        worker = services[name]
        assert "org.apache.spark.deploy.worker.Worker" in worker["command"]
        assert worker["command"][-1] == MASTER_URL
        assert "spark-master" in worker["depends_on"]


def test_spark_services_build_the_project_image(services: dict[str, dict[str, Any]]) -> None:
    assert (PROJECT_ROOT / DOCKERFILE).is_file()
    for name in SPARK_SERVICES:
        build = services[name]["build"]
        assert (PROJECT_ROOT / build["context"] / build["dockerfile"]).resolve() == (
            PROJECT_ROOT / DOCKERFILE
        ).resolve()


def test_the_image_has_java_17_the_jdbc_driver_and_the_project() -> None:
    dockerfile = (PROJECT_ROOT / DOCKERFILE).read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.MULTILINE)
    assert "openjdk-17" in dockerfile
    assert "libpostgresql-jdbc-java" in dockerfile
    assert re.search(r"pip install .*\.", dockerfile)


def test_runs_in_compose_use_the_cluster_profile(services: dict[str, dict[str, Any]]) -> None:
    env = services["spark-master"]["environment"]
    assert env["RAINFOREST_PROFILE"] == "cluster"
    assert env["RAINFOREST_SPARK_MASTER"] == MASTER_URL
    assert env["RAINFOREST_WAREHOUSE"] == "s3://rainforest/lakehouse"
    assert env["RAINFOREST_S3_ENDPOINT"] == "http://minio:9000"
    assert env["RAINFOREST_PG_DSN"].startswith("postgresql://rainforest@postgres:5432/")
    assert env["RAINFOREST_S3_SECRET_ACCESS_KEY"].startswith("${"), "a secret comes from .env"


def test_the_parser_finds_services_in_usual_commands() -> None:
    assert _services_named("up -d --build") == []
    assert _services_named("exec spark-master rainforest run --show x") == ["spark-master"]
    assert _services_named("--profile thrift up -d thrift") == ["thrift"]
    assert _services_named("run --rm -e A=1 spark-master rainforest datagen") == ["spark-master"]
    assert _profiles_named("--profile thrift up -d thrift") == ["thrift"]


def _makefile_compose_commands() -> list[str]:
    """What follows `docker compose` (or `$(COMPOSE)`) in recipe lines, up to the shell's next
    `;`, `&&`, `||` or the end of the line."""
    recipes = [
        line
        for line in MAKEFILE.read_text().replace("\\\n", " ").splitlines()
        if line.startswith("\t")
    ]
    return [
        match.group(1).strip()
        for line in recipes
        for match in re.finditer(r"(?:\$\(COMPOSE\)|docker compose)[ \t]+([^;&|]*)", line)
        if match.group(1).strip()
    ]


def _tokens(command: str) -> list[str]:
    return [token for token in shlex.split(command) if not token.startswith("$(")]


def _services_named(command: str) -> list[str]:
    tokens = _tokens(command)
    operands: list[str] = []
    subcommand: str | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token.startswith("-"):
            if token in _OPTIONS_WITH_VALUE:
                index += 1
            continue
        if subcommand is None:
            subcommand = token
            continue
        operands.append(token)
        if _SERVICE_OPERANDS.get(subcommand):
            break
    return operands if subcommand in _SERVICE_OPERANDS else []


def _profiles_named(command: str) -> list[str]:
    tokens = _tokens(command)
    return [tokens[i + 1] for i, token in enumerate(tokens[:-1]) if token == "--profile"]
