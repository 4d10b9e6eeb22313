"""pip / setuptools install of face_anything_ros (the wheel route; colcon uses CMakeLists.txt)."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "face_anything_ros"

setup(
    name=PACKAGE,
    version="0.4.0",
    description="ROS 2 4D face reconstruction: per-pixel depth and canonical facial coordinates",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["assets/**/*", "weights/*"]},
    include_package_data=True,
    install_requires=[
        "numpy>=1.26",
        "scipy>=1.11",
        "opencv-contrib-python>=4.8",
        "PyYAML>=6",
        "tqdm>=4.60",
        "rosbags>=0.10",
        "torch>=2.4",
    ],
    entry_points={
        "console_scripts": [
            "face-anything = face_anything_ros.cli.main:main",
            "face_anything_node = face_anything_ros.ros.node:main",
        ]
    },
)
