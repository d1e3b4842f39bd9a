"""The ground floor of rules: pure functions over the models.

Periods, working days, lights, obligations, today() and the reminder rules
live here and import only the models, `errors` and each other -- never
services, web, workflow or notify.
"""
