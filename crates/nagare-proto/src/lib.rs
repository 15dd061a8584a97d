//! nagare-proto
