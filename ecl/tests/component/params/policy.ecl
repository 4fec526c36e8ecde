// Request parameters: values whose type is known only at run time.
policy "params" {
    let amount = param("amount")
    require amount != null, "no amount"
    require amount > 0 && amount <= 1000, "amount out of range"
    if param("express") {
        require param("currency") == "EUR"
    }
    allow
}
