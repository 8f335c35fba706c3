package postgres_test

import "crypto/rand"

func randName() string { return rand.Text()[:16] }
