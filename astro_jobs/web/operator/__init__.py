"""The operator page: the HTML views of the queue and of each job."""
