"""The ROS-free per-frame pipeline: detection, ids, crops, backends, geometry, tracking (``pipeline.FacePipeline``)."""
