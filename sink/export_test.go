package sink

// MaxOpenFor exposes maxOpenFor to the tests.
var MaxOpenFor = maxOpenFor
