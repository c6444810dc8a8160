"""mlci: the template's machinery. Validation, drift, report, gate and serving for whatever project sits beside it.

It learns what it needs from files (`dvc.yaml`, the data contract `data.schema.yaml`, the pipeline's outputs) and
never imports the project it serves. You do not edit it: edit the contract, the project and params.yaml instead.
"""
