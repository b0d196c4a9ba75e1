"""The bare-metal platform: harness + backend sources linked with a target's startup code."""
