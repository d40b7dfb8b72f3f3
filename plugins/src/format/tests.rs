use super::*;
use serde_json::json;

fn choose(accept: &str, configured: ResultFormat) -> Result<Choice, NotAcceptable> {
    negotiate([accept.as_bytes()], configured)
}

fn requested(accept: &str, configured: ResultFormat) -> Option<ResultFormat> {
    choose(accept, configured).ok().map(|c| c.requested.resolve(configured))
}

#[test]
fn no_accept_or_wildcards_keep_the_configured_format() {
    for configured in [ResultFormat::Json, ResultFormat::JsonCompact, ResultFormat::Xml, ResultFormat::Csv] {
        assert_eq!(negotiate(std::iter::empty(), configured), Ok(Choice::CONFIGURED));
        for accept in ["*/*", "", " , ", "*/*;q=0.5", "application/*, text/*, */*"] {
            assert_eq!(requested(accept, configured), Some(configured), "{accept:?} {configured:?}");
        }
    }
}

#[test]
fn named_types_choose_and_weights_decide() {
    use ResultFormat::*;
    assert_eq!(requested("application/xml", Json), Some(Xml));
    assert_eq!(requested("text/csv", Json), Some(Csv));
    assert_eq!(requested("application/json", Xml), Some(Json));
    assert_eq!(requested("APPLICATION/JSON; charset=utf-8", Csv), Some(Json));
    assert_eq!(requested("application/xml;q=0.4, text/csv;q=0.5", Json), Some(Csv));
    assert_eq!(requested("text/csv;q=0, */*", Json), Some(Json));
    assert_eq!(requested("text/csv;q=0, */*", Csv), Some(Json), "csv refused, wildcard: JSON first");
    // A browser's header names XML only as a fallback for pages: the configured format.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    assert_eq!(requested(browser, Json), Some(Json));
    assert_eq!(requested(browser, Csv), Some(Csv));
    // Ties go to the configured format.
    assert_eq!(requested("application/json, application/xml", Xml), Some(Xml));
    assert_eq!(requested("application/xml, application/json", Json), Some(Json));
}

#[test]
fn application_json_keeps_the_configured_json_shape() {
    assert_eq!(requested("application/json", ResultFormat::JsonCompact), Some(ResultFormat::JsonCompact));
    assert_eq!(requested("application/json", ResultFormat::Xml), Some(ResultFormat::Json));
}

#[test]
fn text_xml_is_answered_as_text_xml() {
    let choice = choose("text/xml", ResultFormat::Json).unwrap();
    assert_eq!(choice.media(choice.requested.resolve(ResultFormat::Json)), Media::TextXml);
    let choice = choose("application/xml", ResultFormat::Json).unwrap();
    assert_eq!(choice.media(ResultFormat::Xml), Media::Xml);
}

#[test]
fn types_we_do_not_offer_are_not_acceptable() {
    for accept in ["image/png", "image/png, text/plain", "application/json;q=0, application/xml;q=0, text/*;q=0"] {
        assert_eq!(choose(accept, ResultFormat::Json), Err(NotAcceptable), "{accept}");
    }
}

fn xml_text(text: &str) -> String {
    let mut out = Vec::new();
    write_xml_text(&mut out, text);
    String::from_utf8(out).unwrap()
}

#[test]
fn xml_text_escapes_markup_and_replaces_what_xml_cannot_carry() {
    assert_eq!(xml_text("a<b>&c]]>\"'"), "a&lt;b&gt;&amp;c]]&gt;\"'");
    assert_eq!(xml_text("tab\tlf\ncr\r"), "tab\tlf\ncr&#13;");
    assert_eq!(
        xml_text("\u{1}\u{0}\u{1F}x\u{FFFE}\u{FFFF}\u{FFFD}é"),
        "\u{FFFD}\u{FFFD}\u{FFFD}x\u{FFFD}\u{FFFD}\u{FFFD}é"
    );
    let mut attr = Vec::new();
    write_xml_attr(&mut attr, "a\"b\tc\nd");
    assert_eq!(String::from_utf8(attr).unwrap(), "a&quot;b&#9;c&#10;d");
}

#[test]
fn names_that_cannot_be_elements_go_in_an_attribute() {
    for name in ["id", "createdAt", "姓名", "_x", "a-b.c", "Zoë"] {
        assert!(is_element_name(name), "{name}");
    }
    for name in ["", "1a", "a b", "a:b", "xmlThing", "XML", "<x>", "-a", "a\u{1}"] {
        assert!(!is_element_name(name), "{name}");
    }
    let mut out = Vec::new();
    XmlTags::new("a b\"<").text(&mut out, "v");
    assert_eq!(String::from_utf8(out).unwrap(), "<field name=\"a b&quot;&lt;\">v</field>");
    let mut out = Vec::new();
    XmlTags::new("email").nil(&mut out);
    assert_eq!(String::from_utf8(out).unwrap(), "<email xsi:nil=\"true\"/>");
}

#[test]
fn json_maps_to_elements_and_items() {
    let mut out = Vec::new();
    json_to_xml(&json!({"a": [1, "x<"], "b c": null, "d": {"e": true}}), &mut out);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "<a><item>1</item><item>x&lt;</item></a><field name=\"b c\" xsi:nil=\"true\"/><d><e>true</e></d>"
    );
}

#[test]
fn csv_of_flat_objects_only() {
    let csv = json_to_csv(&json!([{"a": 1, "b": "x,y"}, {"b": null, "c": "=cmd", "a": -2}])).unwrap();
    assert_eq!(String::from_utf8(csv).unwrap(), "a,b,c\r\n1,\"x,y\",\r\n-2,,'=cmd\r\n");
    assert!(json_to_csv(&json!([])).unwrap().is_empty());
    assert!(json_to_csv(&json!({"a": 1})).is_none());
    assert!(json_to_csv(&json!([{"a": [1]}])).is_none());
    assert!(json_to_csv(&json!([1, 2])).is_none());
}

proptest::proptest! {
    // The Accept parser is hand-written: any bytes a caller sends give an answer, never a
    // panic, and a header that first takes anything (`*/*` at full weight) is never refused
    // by ranges too vague to name one of our types.
    #[test]
    fn any_accept_header_is_answered_without_panicking(
        header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        shaped in "([a-z*]{0,12}/[a-z+*]{0,12}(;q=[0-9.]{0,5})?(, ?)?){0,6}",
    ) {
        for configured in [ResultFormat::Json, ResultFormat::JsonCompact, ResultFormat::Xml, ResultFormat::Csv] {
            let _ = negotiate([header.as_slice()], configured);
            let _ = negotiate([shaped.as_bytes()], configured);
            let with_any = format!("*/*,{shaped}");
            proptest::prop_assert!(negotiate([with_any.as_bytes()], configured).is_ok(), "{with_any}");
        }
    }
}
