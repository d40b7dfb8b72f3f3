# expect: toolarge
# Control characters that grow sixfold when escaped.
def handler(event, context):
    return chr(1) * 300000
