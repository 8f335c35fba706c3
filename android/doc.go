// Package android owns the Android device channel: enrollment mode selection
// (work profile, Samsung Knox, native device admin), enrollment tokens and QR
// provisioning, compilation of policies into Android Management API policies,
// the agent protocol, status ingestion, and ownership-aware commands.
package android
