module parmapper

go 1.19
