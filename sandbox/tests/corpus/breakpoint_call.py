# expect: raised NameError
# `breakpoint` does not exist.
def handler(event, context):
    breakpoint()
    return 1
