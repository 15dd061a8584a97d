//! nagare-engine
