# expect: compile
# Only the allowed modules themselves, not submodules.
import json.decoder
def handler(event, context):
    return 1
