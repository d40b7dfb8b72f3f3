# expect: notjson
# A list that contains itself has no JSON form.
def handler(event, context):
    a = []
    a.append(a)
    return a
