R"x(raw)x" )" ")\"" \\ \n "quote" 'c' ??= trigraph
ÿ end without newline