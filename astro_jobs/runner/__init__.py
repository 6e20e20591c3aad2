"""What runs inside ``huey_consumer``: one attempt at a job (worker), the
supervisor of an extractor process, the judge of its outcome, the
extractor's command, the warm extractor, recovery of jobs whose worker died,
and this consumer's registration.

May import the store, intake, notify, the queue, the leaves (config, errors,
timefmt, identity, process) and the extractor contract's exit codes
(``extract``'s __init__, which loads nothing). Nothing on the client side
(api, cli, web, queue) imports it: the queue's task reaches ``worker`` only
through ``queue.run_jobs_with``, called by astro_jobs/consumer.py.
"""
