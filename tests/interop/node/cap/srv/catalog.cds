using interop from '../db/schema';

// Server-driven paging: at most 400 rows per response, then @odata.nextLink.
@path: '/odata/v4/catalog'
service CatalogService {
  @cds.query.limit: { default: 400, max: 400 }
  entity Books   as projection on interop.Books;
  @cds.query.limit: { default: 400, max: 400 }
  entity Authors as projection on interop.Authors;
}
