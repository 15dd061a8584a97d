//! nagare-types
