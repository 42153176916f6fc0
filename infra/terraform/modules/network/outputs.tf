output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "The VPC's CIDR."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Subnets of tasks, the internal ALB, the VPC link and the endpoints."
  value       = aws_subnet.private[*].id
}

output "public_subnet_ids" {
  description = "Subnets of the NAT gateways."
  value       = aws_subnet.public[*].id
}

output "nat_gateway_count" {
  description = "NAT gateways created (cost estimate in docs/deploy.md)."
  value       = length(aws_nat_gateway.this)
}
