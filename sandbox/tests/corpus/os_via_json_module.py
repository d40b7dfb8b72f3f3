# expect: raised AttributeError
# Modules carry no `os` or `sys` to borrow.
import json
def handler(event, context):
    return json.os.system('id')
