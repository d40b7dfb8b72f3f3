# expect: compile
# An import inside the handler is refused too, run or not.
def handler(event, context):
    if event == 'never':
        import os
    return 1
