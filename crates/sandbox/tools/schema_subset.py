#!/usr/bin/env python3
"""Writes the SDL of the part of Shopify's Admin GraphQL schema that the sandbox serves.

Usage: python3 crates/sandbox/tools/schema_subset.py > crates/sandbox/src/shopify/graphql/schema.graphql

Reads the real introspection (../shared/shopify/admin-graphql-2026-10.introspection.json.gz) and
keeps only the types and fields listed in SERVED, so every type ref, argument and default is
copied, never typed by hand. Input objects and enums reachable from a served field are taken
whole. `tests/shopify_schema.rs` checks the result against the same file.
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "../../../../shared/shopify/admin-graphql-2026-10.introspection.json.gz")

CONNECTIONS = [
    "Order", "LineItem", "FulfillmentOrder", "FulfillmentOrderLineItem", "ShippingLine",
    "Location", "ProductVariant", "InventoryItem", "InventoryLevel", "FulfillmentLineItem",
    "Return", "ReturnLineItemType", "RefundLineItem",
]

SERVED = {
    "QueryRoot": "fulfillment fulfillmentOrder fulfillmentOrders inventoryItem inventoryItems location locations node order orders ordersCount productVariant productVariants",
    "Mutation": "fulfillmentCreate fulfillmentTrackingInfoUpdate inventoryActivate inventorySetQuantities orderCancel orderUpdate "
                "refundCreate returnCreate tagsAdd",
    "Order": "billingAddress cancelReason cancelledAt closed closedAt confirmed createdAt currencyCode "
             "currentSubtotalPriceSet currentTotalPriceSet customer displayFinancialStatus displayFulfillmentStatus "
             "email fulfillable fulfillmentOrders fulfillments id legacyResourceId lineItems name note number phone "
             "poNumber presentmentCurrencyCode processedAt refunds requiresShipping returnStatus returns shippingAddress "
             "shippingLine shippingLines sourceName subtotalLineItemsQuantity subtotalPriceSet tags taxesIncluded test "
             "totalDiscountsSet totalPriceSet totalReceivedSet totalRefundedSet totalRefundedShippingSet "
             "totalShippingPriceSet totalTaxSet transactions updatedAt",
    "LineItem": "currentQuantity discountedUnitPriceAfterAllDiscountsSet discountedUnitPriceSet id isGiftCard name "
                "originalTotalSet originalUnitPriceSet product quantity refundableQuantity requiresShipping sku title "
                "unfulfilledQuantity variant variantTitle vendor",
    "FulfillmentOrder": "assignedLocation createdAt id lineItems order orderId orderName orderProcessedAt "
                        "requestStatus status updatedAt",
    "FulfillmentOrderLineItem": "id inventoryItemId lineItem productTitle remainingQuantity requiresShipping sku "
                                "totalQuantity variant variantTitle vendor",
    "FulfillmentOrderAssignedLocation": "*",
    "MailingAddress": "address1 address2 city company country countryCodeV2 firstName lastName name phone "
                      "province provinceCode zip",
    "Customer": "defaultEmailAddress defaultPhoneNumber displayName email firstName id lastName legacyResourceId phone",
    "CustomerEmailAddress": "emailAddress",
    "CustomerPhoneNumber": "phoneNumber",
    "MoneyBag": "*",
    "MoneyV2": "*",
    "ProductVariant": "barcode createdAt displayName id inventoryItem inventoryQuantity legacyResourceId price product "
                      "sku title updatedAt",
    "Product": "id isGiftCard legacyResourceId tags title",
    "InventoryItem": "id inventoryLevel inventoryLevels legacyResourceId measurement requiresShipping sku tracked "
                     "unitCost variant",
    "InventoryItemMeasurement": "id weight",
    "Weight": "*",
    "InventoryLevel": "id isActive item location quantities",
    "InventoryQuantity": "name quantity updatedAt",
    "Location": "address fulfillsOnlineOrders id inventoryLevel isActive isPrimary legacyResourceId name",
    "LocationAddress": "address1 address2 city country countryCode province zip",
    "PageInfo": "*",
    "Fulfillment": "createdAt displayStatus fulfillmentLineItems id legacyResourceId location name order "
                   "requiresShipping status totalQuantity trackingInfo updatedAt",
    "FulfillmentTrackingInfo": "*",
    "FulfillmentLineItem": "id lineItem quantity",
    "ShippingLine": "carrierIdentifier code currentDiscountedPriceSet custom discountedPriceSet id isRemoved "
                    "originalPriceSet source title",
    "UserError": "*",
    "InventorySetQuantitiesPayload": "*",
    "InventoryActivatePayload": "*",
    "InventoryAdjustmentGroup": "changes createdAt id reason referenceDocumentUri",
    "InventoryChange": "*",
    "InventorySetQuantitiesUserError": "*",
    "FulfillmentCreatePayload": "*",
    "FulfillmentTrackingInfoUpdatePayload": "*",
    "TagsAddPayload": "*",
    "OrderUpdatePayload": "*",
    "OrderCancelPayload": "job orderCancelUserErrors userErrors",
    "Job": "done id",
    "OrderCancelUserError": "*",
    "Return": "closedAt createdAt id name order returnLineItems status totalQuantity",
    "ReturnLineItemType": "customerNote id quantity returnReason returnReasonNote",
    "ReturnLineItem": "customerNote fulfillmentLineItem id quantity returnReason returnReasonNote",
    "ReturnCreatePayload": "*",
    "Refund": "createdAt id note refundLineItems totalRefundedSet",
    "RefundLineItem": "id lineItem quantity restockType subtotalSet",
    "RefundCreatePayload": "*",
    "OrderTransaction": "amountSet gateway id kind parentTransaction status",
    "ReturnUserError": "*",
    "Count": "*",
    "Node": "*",
}
for name in CONNECTIONS:
    SERVED[name + "Connection"] = "*"
    SERVED[name + "Edge"] = "*"

BUILTIN = {"String", "Int", "Float", "Boolean", "ID"}


def ref(t):
    if t["kind"] == "NON_NULL":
        return ref(t["ofType"]) + "!"
    if t["kind"] == "LIST":
        return "[" + ref(t["ofType"]) + "]"
    return t["name"]


def deprecated(item):
    """The `@deprecated` directive of a deprecated field, argument or input field, so the
    sandbox can name what a request used in `X-Shopify-API-Deprecated-Reason` as Shopify does."""
    if not item.get("isDeprecated"):
        return ""
    return " @deprecated(reason: " + json.dumps(item.get("deprecationReason") or "No longer supported") + ")"


def named(t):
    while t.get("ofType"):
        t = t["ofType"]
    return t["name"]


def main():
    schema = json.load(gzip.open(SCHEMA))["data"]["__schema"]
    types = {t["name"]: t for t in schema["types"]}
    needed = []  # input objects, enums and scalars reachable from served fields

    def need(name):
        if name not in SERVED and name not in needed and name not in BUILTIN:
            needed.append(name)
            t = types[name]
            for f in t.get("inputFields") or []:
                need(named(f["type"]))

    out = []

    def args(values):
        parts = []
        for a in values:
            need(named(a["type"]))
            default = f" = {a['defaultValue']}" if a["defaultValue"] is not None else ""
            parts.append(f"{a['name']}: {ref(a['type'])}{default}{deprecated(a)}")
        return "(" + ", ".join(parts) + ")" if parts else ""

    for name, wanted in SERVED.items():
        t = types[name]
        fields = {f["name"]: f for f in t["fields"]}
        keep = sorted(fields) if wanted == "*" else wanted.split()
        interfaces = [i["name"] for i in t.get("interfaces") or [] if i["name"] in SERVED]
        keyword = "interface" if t["kind"] == "INTERFACE" else "type"
        implements = " implements " + " & ".join(interfaces) if interfaces else ""
        out.append(f"{keyword} {name}{implements} {{")
        for field_name in keep:
            f = fields[field_name]
            target = named(f["type"])
            if target not in SERVED:
                need(target)
            out.append(f"  {field_name}{args(f['args'])}: {ref(f['type'])}{deprecated(f)}")
        out.append("}\n")

    for name in needed:
        t = types[name]
        if t["kind"] == "SCALAR":
            out.append(f"scalar {name}\n")
        elif t["kind"] == "ENUM":
            out.append(f"enum {name} {{")
            out.extend(f"  {v['name']}" for v in t["enumValues"])
            out.append("}\n")
        elif t["kind"] == "INPUT_OBJECT":
            out.append(f"input {name} {{")
            for f in t["inputFields"]:
                default = f" = {f['defaultValue']}" if f["defaultValue"] is not None else ""
                out.append(f"  {f['name']}: {ref(f['type'])}{default}{deprecated(f)}")
            out.append("}\n")
        else:
            sys.exit(f"{name} ({t['kind']}) is reachable but not listed in SERVED")

    print("# Generated by crates/sandbox/tools/schema_subset.py from Shopify's Admin GraphQL 2026-10")
    print("# introspection: the types and fields the sandbox serves. Do not edit by hand.\n")
    print("\n".join(out).rstrip())


main()
