package android

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/boombuler/barcode/qr"
)

// The geometry of rendered QR codes: every module is QRScale pixels square,
// with a quiet zone of QRQuietZone modules on each side (the standard's
// minimum).
const (
	QRScale     = 8
	QRQuietZone = 4
)

// QRMatrix returns the QR symbol for payload as a square of modules (true
// is dark), byte mode, error correction level M.
func QRMatrix(payload []byte) ([][]bool, error) {
	code, err := qr.Encode(string(payload), qr.M, qr.Unicode)
	if err != nil {
		return nil, fmt.Errorf("android: QR encode: %w", err)
	}
	n := code.Bounds().Dx()
	m := make([][]bool, n)
	for y := range n {
		m[y] = make([]bool, n)
		for x := range n {
			r, _, _, _ := code.At(x, y).RGBA()
			m[y][x] = r == 0
		}
	}
	return m, nil
}

// QRPNG renders payload as a PNG QR code for the web UI.
func QRPNG(payload []byte) ([]byte, error) {
	m, err := QRMatrix(payload)
	if err != nil {
		return nil, err
	}
	side := (len(m) + 2*QRQuietZone) * QRScale
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range QRScale {
				for dx := range QRScale {
					img.SetGray((x+QRQuietZone)*QRScale+dx, (y+QRQuietZone)*QRScale+dy, color.Gray{})
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("android: PNG encode: %w", err)
	}
	return buf.Bytes(), nil
}
