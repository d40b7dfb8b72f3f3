# expect: notjson
# A class instance is not JSON.
class Thing:
    pass


def handler(event, context):
    return Thing()
