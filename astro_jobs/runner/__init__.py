"""What runs inside ``huey_consumer``: the job task (worker), the supervisor
of an extractor process, the judge of its outcome, the extractor's command,
recovery of jobs whose worker died, and this consumer's registration.

May import the store, intake, notify, the queue, config, errors and the
extractor contract's exit codes (``extract``'s __init__, which loads nothing). Nothing
on the client side (api, cli, web) imports it.
"""
