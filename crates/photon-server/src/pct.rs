//! Percent-encoding of the URL parts that the pages and client commands build: RFC 3986's
//! unreserved characters stay as they are, everything else is encoded as UTF-8 bytes.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// A query value or one path segment.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path whose slashes separate segments.
const PATH: &AsciiSet = &COMPONENT.remove(b'/');

pub(crate) fn component(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

pub(crate) fn path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unreserved_stay_and_the_rest_is_encoded() {
        assert_eq!(
            super::component("a-b_c.d~e f/g\\é"),
            "a-b_c.d~e%20f%2Fg%5C%C3%A9"
        );
        assert_eq!(super::path("/console/images/a b"), "/console/images/a%20b");
    }
}
