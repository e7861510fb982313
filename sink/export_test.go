package sink

// SetMaxOpenTranscripts lets tests force files to be closed and reopened.
func SetMaxOpenTranscripts(t *Transcripts, n int) { t.maxOpen = n }
