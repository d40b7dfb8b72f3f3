# expect: notjson
# Bytes are not JSON.
def handler(event, context):
    return b'raw'
