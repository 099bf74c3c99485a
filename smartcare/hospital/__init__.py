"""The smart hospital: directory, scheduling and queue, workstation, lab, imaging, pharmacy, decision support."""
