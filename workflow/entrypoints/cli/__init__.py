"""The `passend` command line: a thin shell over `workflow.Engine`."""
