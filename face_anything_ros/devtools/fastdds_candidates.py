"""Fast DDS profiles tried for the node's large outputs (``large_sample_delivery --candidate NAME``).

Each is a complete profile file for the node process, keeping the shipped 50 ms writer heartbeat,
so the measurements compare transport settings alone. ``shipped`` is whatever the package ships.
"""

from __future__ import annotations

from pathlib import Path

HEARTBEAT_WRITER = """
    <data_writer profile_name="candidate_writers" is_default_profile="true">
      <times><heartbeat_period><sec>0</sec><nanosec>50000000</nanosec></heartbeat_period></times>
    </data_writer>"""


def _profile(participant_rtps: str = "", transports: str = "", writer_qos: str = "") -> str:
    writer = HEARTBEAT_WRITER
    if writer_qos:
        writer = writer.replace("<times>", f"<qos>{writer_qos}</qos>\n      <times>")
    descriptors = f"<transport_descriptors>{transports}</transport_descriptors>" if transports else ""
    participant = (
        f'<participant profile_name="candidate_participant" is_default_profile="true">'
        f"<rtps>{participant_rtps}</rtps></participant>"
        if participant_rtps
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n<dds xmlns="http://www.eprosima.com"><profiles>'
        f"{descriptors}{participant}{writer}\n</profiles></dds>\n"
    )


def _shm_and_udp(segment_bytes: int) -> str:
    return _profile(
        participant_rtps=(
            "<useBuiltinTransports>false</useBuiltinTransports><userTransports>"
            "<transport_id>candidate_shm</transport_id><transport_id>candidate_udp</transport_id>"
            "</userTransports>"
        ),
        transports=(
            "<transport_descriptor><transport_id>candidate_shm</transport_id><type>SHM</type>"
            f"<segment_size>{segment_bytes}</segment_size></transport_descriptor>"
            "<transport_descriptor><transport_id>candidate_udp</transport_id><type>UDPv4</type>"
            "</transport_descriptor>"
        ),
    )


def _builtin(mode: str, **options: str) -> str:
    attributes = "".join(f' {key}="{value}"' for key, value in options.items())
    return _profile(participant_rtps=f"<builtinTransports{attributes}>{mode}</builtinTransports>")


MIB = 1024 * 1024
CANDIDATES: dict[str, str] = {
    "heartbeat_only": _profile(),  # the profile shipped before this work: Fast DDS default transports
    "shm_8mib": _shm_and_udp(8 * MIB),
    "shm_32mib": _shm_and_udp(32 * MIB),
    "builtin_sockets_4mib": _builtin("DEFAULT", sockets_size=str(4 * MIB)),
    "large_data": _builtin("LARGE_DATA"),
    "large_data_4mib": _builtin("LARGE_DATA", max_msg_size=str(4 * MIB), sockets_size=str(8 * MIB)),
    "data_sharing": _profile(writer_qos="<data_sharing><kind>AUTOMATIC</kind></data_sharing>"),
}


def candidate_profile(name: str, folder: Path) -> Path:
    """Write candidate ``name`` into ``folder`` and return its path (``shipped``: the package's file)."""
    if name == "shipped":
        from face_anything_ros.ros.process_setup import node_fastdds_profile

        return node_fastdds_profile()
    if name not in CANDIDATES:
        raise ValueError(f"unknown candidate {name!r}; one of: shipped, {', '.join(CANDIDATES)}")
    path = folder / f"candidate_{name}.xml"
    path.write_text(CANDIDATES[name])
    return path
