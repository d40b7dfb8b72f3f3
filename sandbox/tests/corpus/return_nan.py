# expect: notjson
# NaN is not JSON.
def handler(event, context):
    return float('nan')
