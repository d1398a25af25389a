"""Numbers in the Chinese pages as Chinese readers see them in print and in their browser.

Django's own zh_Hans formats leave thousands unseparated ("9093"); Unicode's CLDR, which
the browser follows for the charts, groups them by three with a comma ("9,093"). Only
these two settings differ: every other format comes from Django's module.
"""

THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
