use super::*;
use reqwest::header::{HeaderValue, LINK};
use serde_json::json;

fn state(pages: u64, rows: u64, next: Option<Next>) -> PageState {
    PageState { pages, rows, next }
}

#[test]
fn page_urls_for_offset_page_and_templates() {
    let p = Paging {
        max_page_size: Some(50),
        page_size_param: Some(Param::parse("limit", "{LIMIT}")),
        row_offset_param: Some(Param::parse("offset", "{OFFSET}")),
        first_row_number: Some(1),
        ..Default::default()
    };
    let u = page_url("https://h/items?x=1", &p, &state(2, 100, None)).unwrap();
    assert_eq!(u.as_str(), "https://h/items?x=1&limit=50&offset=101");
    let p = Paging {
        page_number_param: Some(Param::parse("page[number]={PAGE}", "{PAGE}")),
        ..Default::default()
    };
    let u = page_url("https://h/items", &p, &state(0, 0, None)).unwrap();
    assert_eq!(u.query(), Some("page%5Bnumber%5D=1"));
    let p = Paging {
        max_page_size: Some(10),
        ..Default::default()
    };
    let u = page_url(
        "https://h/i?size={LIMIT}&from={OFFSET}",
        &p,
        &state(1, 10, None),
    )
    .unwrap();
    assert_eq!(u.query(), Some("size=10&from=10"));
    let p = Paging {
        next_page_param: Some(Param::parse("cursor", "{NEXT}")),
        ..Default::default()
    };
    assert_eq!(
        page_url("https://h/i", &p, &state(0, 0, None))
            .unwrap()
            .query(),
        None
    );
    let t = state(1, 5, Some(Next::Token("abc=".into())));
    assert_eq!(
        page_url("https://h/i", &p, &t).unwrap().query(),
        Some("cursor=abc%3D")
    );
    let u = Url::parse("https://other/next?page=2").unwrap();
    let s = state(1, 5, Some(Next::Url(u.clone())));
    assert_eq!(page_url("https://h/i", &p, &s).unwrap(), u);
}

#[test]
fn declared_next_links_and_tokens() {
    let req = Url::parse("https://h/v1/items?page=1").unwrap();
    let headers = HeaderMap::new();
    let p = Paging {
        next_page_element: Some(vec!["paging".into(), "next".into()]),
        ..Default::default()
    };
    let body = json!({"paging": {"next": "/v1/items?page=2"}});
    assert_eq!(
        declared_next(&p, &body, &headers, &req),
        Ok(Some(Next::Url(
            Url::parse("https://h/v1/items?page=2").unwrap()
        )))
    );
    assert_eq!(
        declared_next(&p, &json!({"paging": {"next": null}}), &headers, &req),
        Ok(None)
    );
    let p = Paging {
        next_page_param: Some(Param::parse("cursor", "{NEXT}")),
        ..p
    };
    assert_eq!(
        declared_next(&p, &body, &headers, &req),
        Ok(Some(Next::Token("/v1/items?page=2".into())))
    );
    let p = Paging {
        next_page_header: Some("Link".into()),
        ..Default::default()
    };
    let mut h = HeaderMap::new();
    h.insert(
        LINK,
        HeaderValue::from_static(
            r#"<https://h/v1/items?page=1>; rel="prev", <https://h/v1/items?page=3>; rel="next""#,
        ),
    );
    assert_eq!(
        declared_next(&p, &json!([]), &h, &req),
        Ok(Some(Next::Url(
            Url::parse("https://h/v1/items?page=3").unwrap()
        )))
    );
    h.insert(LINK, HeaderValue::from_static("garbage"));
    assert!(declared_next(&p, &json!([]), &h, &req).is_err());
}

#[test]
fn every_recognised_next_form() {
    let h = HeaderMap::new();
    for body in [
        json!({"next": "N"}),
        json!({"nextLink": "N"}),
        json!({"next_page_url": "N"}),
        json!({"nextPageUrl": "N"}),
        json!({"@odata.nextLink": "N"}),
        json!({"links": {"next": "N", "self": "S"}}),
        json!({"_links": {"next": {"href": "N"}}}),
        json!({"_links": {"next": "N"}}),
        json!({"paging": {"next": "N"}}),
        json!({"paging": {"next": {"link": "N"}}}),
    ] {
        let req = Url::parse("https://h/v1/items").unwrap();
        assert_eq!(
            recognised_next(&body, &h, &req),
            Ok(Some(Url::parse("https://h/v1/N").unwrap())),
            "{body}"
        );
        let mut stripped = body.clone();
        strip_next_links(&mut stripped);
        assert!(!stripped.to_string().contains("\"N\""), "{stripped}");
    }
    let mut body = json!({"links": {"next": "N", "self": "S"}, "data": []});
    strip_next_links(&mut body);
    assert_eq!(body, json!({"links": {"self": "S"}, "data": []}));
    let mut h = HeaderMap::new();
    h.insert(LINK, HeaderValue::from_static("</page/2>; rel=\"next\""));
    let req = Url::parse("https://h/v1/items").unwrap();
    assert_eq!(
        recognised_next(&json!([]), &h, &req),
        Ok(Some(Url::parse("https://h/page/2").unwrap()))
    );
    assert_eq!(
        recognised_next(&json!({"next": null}), &HeaderMap::new(), &req),
        Ok(None)
    );
}

#[test]
fn stop_rules() {
    let none = Paging::default();
    assert!(stops_after(&none, &json!([]), 0, &state(1, 0, None)));
    assert!(!stops_after(&none, &json!([]), 3, &state(1, 3, None)));
    let sized = Paging {
        max_page_size: Some(2),
        ..Default::default()
    };
    assert!(stops_after(&sized, &json!([]), 1, &state(1, 1, None)));
    assert!(!stops_after(&sized, &json!([]), 2, &state(1, 2, None)));
    let more = Paging {
        has_more_element: Some(vec!["has_more".into()]),
        ..sized.clone()
    };
    assert!(stops_after(
        &more,
        &json!({"has_more": false}),
        2,
        &state(1, 2, None)
    ));
    assert!(!stops_after(
        &more,
        &json!({"has_more": true}),
        1,
        &state(1, 1, None)
    ));
    let total = Paging {
        total_rows_element: Some(vec!["total".into()]),
        ..Default::default()
    };
    assert!(stops_after(
        &total,
        &json!({"total": "4"}),
        2,
        &state(2, 4, None)
    ));
    assert!(!stops_after(
        &total,
        &json!({"total": 5}),
        2,
        &state(2, 4, None)
    ));
    let next = Paging {
        next_page_header: Some("Link".into()),
        ..Default::default()
    };
    assert!(stops_after(&next, &json!([]), 2, &state(1, 2, None)));
    let n = Some(Next::Token("t".into()));
    assert!(!stops_after(&next, &json!([]), 2, &state(1, 2, n)));
    assert!(none.pages("https://h/?o={OFFSET}") && !none.pages("https://h/"));
}
