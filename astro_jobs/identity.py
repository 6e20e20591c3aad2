"""Who this process is to other consumers: one small owner, imported by the
runner, recovery and notify alike (so none of them imports another for it).
"""
import uuid

# Identifies this consumer process among all that ever ran with the same pid
# (a container restarts its consumer as pid 1 every time).
INSTANCE = uuid.uuid4().hex[:12]
# In the environment of every process a job's extractor starts: how what a
# lost run left behind is found again, in whatever session it moved to.
JOB_ENV_MARKER = "ASTRO_JOBS_JOB_ID"
