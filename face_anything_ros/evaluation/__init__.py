"""Evaluation of the method against baselines on sequences in the evaluation format.

``metrics`` holds the pure-numpy metric definitions, ``baselines`` the comparison
trackers / depth estimators, ``real_texture`` the warped-photo test set and ``report``
the JSON / markdown output. ``face_anything_ros.evaluation.evaluate`` orchestrates a run.
"""
