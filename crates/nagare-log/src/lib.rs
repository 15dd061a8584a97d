//! nagare-log
