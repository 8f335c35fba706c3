package sqlite

// WriterDSN is the DSN Open gives the writer's connection to the file at
// path, with the default options.
func WriterDSN(path string) string {
	return "file:" + path + "?" + writerParams(configure(nil)).Encode()
}
