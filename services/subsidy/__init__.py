"""The talent subsidy: policies as data, explained eligibility, applications, disbursement ledger."""
