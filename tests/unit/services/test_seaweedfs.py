"""The SeaweedFS command line: every port chosen and remembered, the secret in a private file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from etl.services.seaweedfs import INTERNAL_PORTS, SeaweedS3, folder_bytes

SECRET = "not-on-the-command-line"


def server(data_dir: Path, port: int = 19000) -> SeaweedS3:
    return SeaweedS3(
        data_dir=data_dir, port=port, bucket="lake", access_key_id="key", secret_access_key=SECRET
    )


def flags(command: list[str]) -> dict[str, str]:
    return dict(part[1:].split("=", 1) for part in command[2:])


def test_every_port_is_chosen_and_none_is_left_to_a_fixed_default(tmp_path: Path) -> None:
    command = server(tmp_path / "s3").command()
    given = flags(command)

    assert command[1] == "mini"
    assert given["s3.port"] == "19000"
    assert set(INTERNAL_PORTS) <= set(given)
    ports = [given["s3.port"], *(given[name] for name in INTERNAL_PORTS)]
    assert len(set(ports)) == len(ports), "no two services share a port"
    assert (given["ip"], given["ip.bind"]) == ("127.0.0.1", "127.0.0.1")
    assert given["master.resumeState"] == "false" and given["webdav"] == "false"
    assert given["bucket"] == "lake"


def test_a_restart_uses_the_same_internal_ports(tmp_path: Path) -> None:
    first = flags(server(tmp_path / "s3").command())
    second = flags(server(tmp_path / "s3").command())

    assert {name: first[name] for name in INTERNAL_PORTS} == {
        name: second[name] for name in INTERNAL_PORTS
    }


def test_the_secret_is_in_a_private_identities_file_only(tmp_path: Path) -> None:
    seaweed = server(tmp_path / "s3")
    command = seaweed.command()

    assert not any(SECRET in part for part in command)
    assert SECRET not in repr(seaweed)
    identities = Path(flags(command)["s3.config"])
    assert stat.S_IMODE(identities.stat().st_mode) == 0o600
    credentials = json.loads(identities.read_text())["identities"][0]["credentials"]
    assert credentials == [{"accessKey": "key", "secretKey": SECRET}]


def test_folder_bytes_counts_every_file_below(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "x").write_bytes(b"123")
    (tmp_path / "a" / "b" / "y").write_bytes(b"4567")

    assert folder_bytes(tmp_path) == 7
    assert folder_bytes(tmp_path / "missing") == 0
